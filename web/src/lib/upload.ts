// Uploads with progress: fetch cannot report how much of a request body has been sent, so this one
// call uses XMLHttpRequest, with the same key header and the same ApiError (the server's own message)
// as every other call in lib/api.ts.
import { ApiError, authHeaders, errorFromBody } from './api';

const errorOf = (status: number, text: string): ApiError => errorFromBody(status, text, `the server answered ${status}`);

export interface UploadOptions {
  readonly contentType: string;
  /** fraction sent, 0..1; the server still checks the file after the last byte */
  onProgress?(sent: number, total: number): void;
  readonly signal?: AbortSignal;
}

/**
 * POSTs `body` to `path` and parses the JSON answer.
 * @example await upload<{ version: number }>('/api/models/mlp/versions', file, { contentType: 'application/octet-stream', onProgress: (s, t) => bar.value = s / t })
 */
export function upload<T>(path: string, body: Blob, opts: UploadOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    for (const [k, v] of Object.entries(authHeaders({ 'content-type': opts.contentType }))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => opts.onProgress?.(e.loaded, e.lengthComputable ? e.total : body.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as T);
        } catch {
          reject(new ApiError(xhr.status, 'the server answered with something other than JSON'));
        }
      } else reject(errorOf(xhr.status, xhr.responseText));
    };
    // A refused upload may be cut off mid-body (the server closes the connection after its answer);
    // the browser then reports a network error although the answer arrived, so prefer the answer.
    xhr.onerror = () => reject(xhr.status > 0 ? errorOf(xhr.status, xhr.responseText) : new ApiError(0, 'the upload did not reach Ferry (the connection failed); is the server running?'));
    xhr.onabort = () => reject(new DOMException('the upload was cancelled', 'AbortError'));
    opts.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}
