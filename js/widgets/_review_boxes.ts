// The review widget's box overlay: every annotator's boxes drawn as SVG over the image
// canvas, in source-image coordinates (the viewBox), each with its "annotator: class" label.
import { DASHES, NEUTRAL, s, type Item } from './_review_common';

/** One group per annotator (class-colored boxes, its own dash and label corner) in `svg`. */
export function drawBoxes(
  svg: SVGSVGElement,
  item: Item,
  colors: Map<string, string>,
  annotatorOrder: (name: string, fallback: number) => number
): void {
  const w = item.source_width || item.width;
  const hgt = item.source_height || item.height;
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  const fontSize = Math.max(hgt / 34, 1);
  item.annotators.forEach((ann, j) => {
    const i = annotatorOrder(ann.name, j);
    const group = s('g', {
      class: 'cvops-review-ann',
      'data-annotator': ann.name,
      'stroke-dasharray': DASHES[i % DASHES.length]
    });
    for (const box of ann.boxes) {
      const color = colors.get(box.class_name) ?? NEUTRAL;
      const rect = s('rect', {
        x: box.x0,
        y: box.y0,
        width: Math.max(box.x1 - box.x0, 0),
        height: Math.max(box.y1 - box.y0, 0),
        stroke: color,
        fill: color,
        'fill-opacity': 0.08,
        'stroke-width': 2,
        'vector-effect': 'non-scaling-stroke'
      });
      // Annotators often draw the same object: each puts its label at another corner.
      const corner = i % 4;
      const below = corner === 1 || corner === 3;
      const right = corner >= 2;
      const y = below ? box.y1 + fontSize : box.y0 - fontSize * 0.25;
      const label = s('text', {
        x: right ? box.x1 : box.x0,
        y: Math.min(Math.max(y, fontSize), hgt),
        fill: color,
        'font-size': fontSize,
        'text-anchor': right ? 'end' : 'start',
        class: 'cvops-review-box-label'
      });
      label.textContent = `${ann.name}: ${box.class_name}`;
      const title = s('title', {});
      title.textContent = `${ann.name}: ${box.class_name}`;
      rect.append(title);
      group.append(rect, label);
    }
    svg.append(group);
  });
}
