/**
 * The one typed request helper for the jupyter-cvops server extension.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { API_NAMESPACE } from './tokens';

/** Options of {@link requestAPI}. */
export interface IRequestOptions {
  /** Query parameters, URL-encoded by the helper. */
  query?: Record<string, string>;
  /** Fetch options (method, body, ...). */
  init?: RequestInit;
  /** Server settings; defaults to the page's settings. */
  settings?: ServerConnection.ISettings;
}

/** `GET /cvops/api/status`. */
export interface IServerStatus {
  version: string;
  roots: string[];
}

/**
 * Call `/cvops/api/<endpoint>` and decode its JSON answer.
 *
 * @throws ServerConnection.ResponseError carrying the server's `message`
 * when the answer is not 2xx; ServerConnection.NetworkError when unreachable.
 */
export async function requestAPI<T>(endpoint: string, options: IRequestOptions = {}): Promise<T> {
  const settings = options.settings ?? ServerConnection.makeSettings();
  const query = options.query ? URLExt.objectToQueryString(options.query) : '';
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endpoint) + query;

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, options.init ?? {}, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }

  const text = await response.text();
  let data: unknown = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON (e.g. an HTML error page); keep the raw text for the message.
    }
  }
  if (!response.ok) {
    const body = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
    const message = String(body['message'] ?? body['reason'] ?? text);
    throw new ServerConnection.ResponseError(response, message);
  }
  return data as T;
}

/**
 * POST a JSON body to `/cvops/api/<endpoint>` (the XSRF header and the token are added by
 * `ServerConnection.makeRequest`, as for every JupyterLab POST).
 */
export function postAPI<T>(endpoint: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return requestAPI<T>(endpoint, {
    init: {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' },
      signal
    }
  });
}

/** The one-line reason of a failed request (the server's `message`, else the error's text). */
export function errorMessage(error: unknown): string {
  if (error instanceof ServerConnection.ResponseError) {
    return error.message.split('\n')[0];
  }
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0];
}
