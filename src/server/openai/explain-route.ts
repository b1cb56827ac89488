// POST /v1/classifications/explain: why a text classifier labelled a text as it did, in the style of
// /v1/classifications — {model, input, target?, method?, steps?, baseline?, tolerance?} in, one
// score per token of `input` out, each with its character offsets into the string that was sent.
// A client that disconnects stops the explanation; the server's time limit bounds it.
import type { FastifyInstance } from 'fastify';
import { FerryError } from '../../core/errors.js';
import { parseExplainParams } from '../../explain/explain-params.js';
import { explanationJson } from '../../explain/explanation.js';
import { sharedExplainService } from '../../explain/shared.js';
import type { ServerDeps } from '../app.js';
import { hangUpSignal } from '../hang-up.js';

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);

export async function explainRoutes(app: FastifyInstance, { deps }: { deps: ServerDeps }): Promise<void> {
  const svc = sharedExplainService(deps);
  app.addHook('onClose', () => svc.close());

  app.post('/classifications/explain', { config: { scope: 'infer' } }, async (request, reply) => {
    const body = request.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad('send a JSON object {"model": ..., "input": "a text"}');
    const { model, input, ...rest } = body as Record<string, unknown>;
    if (typeof model !== 'string' || model === '') throw bad('"model" must name a text classifier, e.g. "spam-transformer" or "spam-transformer:2"');
    if (typeof input !== 'string') throw bad('"input" must be one string: explanations are per text');
    const params = parseExplainParams(rest);
    const rec = await deps.registry.resolveRef(model);
    if (!(await svc.isText(rec))) {
      throw bad(`model "${rec.model}" is not a text classifier; /v1/classifications/explain serves models pushed or trained with a tokenizer and labels (explain tensor models with POST /v2/models/${rec.model}/explain)`);
    }
    const e = await svc.explainText(rec, input, params, { signal: hangUpSignal(reply) });
    request.usage?.ran(rec.model, rec.version, 0, e.computeMs);
    return { object: 'classification.explanation', model: `${rec.model}:${rec.version}`, label: e.predicted.label ?? `LABEL_${e.predicted.index}`, ...explanationJson(e) };
  });
}
