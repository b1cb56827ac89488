// POST /v2/models/{name}[/versions/{v}]/explain, beside /infer as the Open Inference Protocol
// places it. The body is a V2 inference request for one example (JSON or binary tensors); its
// `parameters` choose the method and its settings (method, target, steps, baseline, patch, stride,
// output, input, overlay). A text model takes its one string as the BYTES input "text".
// The V2 `timeout` parameter (microseconds) limits the explanation, as it limits an inference; a
// client that disconnects stops it. Decode, delegate, encode: the explaining is src/explain/'s.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FerryError } from '../../core/errors.js';
import { parseExplainParams } from '../../explain/explain-params.js';
import { explanationJson } from '../../explain/explanation.js';
import { sharedExplainService } from '../../explain/shared.js';
import { checkInputs } from '../../tasks/tensor.js';
import type { ServerDeps } from '../app.js';
import { decodeInferRequest, parseHeaderLength } from './decode.js';
import { hangUpSignal } from '../hang-up.js';

interface ModelParams { name: string; version?: string }

/** V2 request parameters that are the request's, not the explanation's */
const V2_PARAMETERS = ['priority', 'timeout', 'binary_data_output', 'truncation'];

export async function explainRoutes(app: FastifyInstance, { deps }: { deps: ServerDeps }): Promise<void> {
  const svc = sharedExplainService(deps);
  app.addHook('onClose', () => svc.close());

  const explain = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const { name, version } = request.params;
    const body = request.body as Buffer | undefined;
    if (!body || body.length === 0) throw new FerryError('INVALID_ARGUMENT', 'the request body is empty; send a V2 inference request {"inputs": [...]} for one example, with explain settings in "parameters"');
    const req = decodeInferRequest(body, parseHeaderLength(request.headers['inference-header-content-length']));
    const params = parseExplainParams(req.parameters, V2_PARAMETERS);
    const rec = await deps.registry.resolve(name, version);
    checkInputs(rec.signature, req.inputs);
    const limits = { signal: hangUpSignal(reply), ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}) };
    let e;
    if (await svc.isText(rec)) {
      const t = req.inputs['text']!;
      if (t.shape.length !== 1 || t.shape[0] !== 1) throw new FerryError('INVALID_ARGUMENT', `explain one text at a time: send "text" with shape [1], not [${t.shape.join(', ')}]`);
      e = await svc.explainText(rec, new TextDecoder().decode((t.data as Uint8Array[])[0]), params, limits);
    } else {
      e = await svc.explainTensor(rec, req.inputs, params, limits);
    }
    request.usage?.ran(rec.model, rec.version, 0, e.computeMs);
    const out = { model_name: name, model_version: String(rec.version), ...(req.id !== undefined ? { id: req.id } : {}), ...explanationJson(e) };
    return reply.type('application/json').send(JSON.stringify(out));
  };
  const opts = { config: { scope: 'infer' as const } };
  app.post('/models/:name/explain', opts, explain);
  app.post('/models/:name/versions/:version/explain', opts, explain);
}
