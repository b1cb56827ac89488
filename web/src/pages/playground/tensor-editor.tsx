// Raw tensors for any ONNX model: a V2 request as JSON, prefilled with one zero-valued example of
// every input the signature names, sent to POST /v2/models/:name/versions/:v/infer, and the answer
// shown formatted. Mistakes in the JSON are named before anything is sent.
import { useMemo, useState } from 'preact/hooks';
import { api, enc } from '../../lib/api';
import { ErrorBox } from '../../components/status';
import type { ModelVersion } from './kind';
import { formatJson, parseRequest, sampleRequest } from './tensor-json';

/** values of one output shown before "… n more": enough to read, few enough to render at once */
const SHOWN = 200;
/** a sample with more values than this is left to the user (a 3×640×640 image is 1.2 million zeros) */
const MAX_SAMPLE = 100_000;

export function TensorEditor({ version }: { version: ModelVersion }) {
  const sample = useMemo(() => {
    const request = sampleRequest(version.signature.inputs);
    const size = request.inputs.reduce((a, t) => a + t.data.length, 0);
    return size <= MAX_SAMPLE ? formatJson(request) : formatJson({ inputs: request.inputs.map((t) => ({ ...t, data: [] })) });
  }, [version.model, version.version]);
  const [text, setText] = useState(sample);
  const [answer, setAnswer] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const send = async () => {
    const parsed = parseRequest(text);
    if (!parsed.ok) {
      setError(parsed.error);
      return;
    }
    setBusy(true);
    try {
      const res = await api<unknown>(`/v2/models/${enc(version.model)}/versions/${version.version}/infer`, { body: parsed.request });
      setAnswer(formatJson(res, SHOWN));
      setError(undefined);
    } catch (err) {
      // an answer left beside the error would look like the answer to this request
      setAnswer(undefined);
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="grid-2">
      <form onSubmit={(e) => { e.preventDefault(); void send(); }}>
        <label>
          Request (V2 JSON)
          <textarea class="tensor-json mono" rows={14} spellcheck={false} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <div class="row-buttons">
          <button type="submit" aria-busy={busy} disabled={busy}>Send</button>
          <button type="button" class="secondary outline" onClick={() => { setText(sample); setError(undefined); }}>Reset to sample</button>
        </div>
        <ErrorBox error={error} />
      </form>
      <div>
        <label for="tensor-response">Response</label>
        <output id="tensor-response" class="tensor-json mono" aria-live="polite">{answer ?? (error ? 'No answer: see the message under the request.' : 'Send the request to see the outputs.')}</output>
      </div>
    </div>
  );
}
