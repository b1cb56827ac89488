// Chat with a generative model: POST /v1/chat/completions with stream: true, the answer growing as
// its chunks arrive. Stop aborts the fetch; the server sees the connection close and stops
// generating (it counts the request as finish_reason "abort").
import { useEffect, useRef, useState } from 'preact/hooks';
import { streamEvents } from '../../lib/api';
import { ErrorBox } from '../../components/status';
import type { ModelVersion } from './kind';

interface Message {
  readonly role: 'user' | 'assistant';
  readonly content: string;
  /** how an answer ended: "stop" or "length" from the server, "stopped" when the user stopped it */
  readonly finish?: string;
}

interface Chunk {
  readonly choices?: readonly { readonly delta?: { readonly content?: string }; readonly finish_reason?: string | null }[];
  readonly error?: { readonly message: string };
}

const FINISH: Record<string, string> = { stop: 'done', length: 'reached the token limit', stopped: 'stopped' };

export function Chat({ version }: { version: ModelVersion }) {
  const context = typeof version.metadata['contextLength'] === 'number' ? (version.metadata['contextLength'] as number) : 4096;
  const [messages, setMessages] = useState<Message[]>([]);
  const [draft, setDraft] = useState('');
  const [temperature, setTemperature] = useState(0.7);
  const [maxTokens, setMaxTokens] = useState(Math.min(256, Math.floor(context / 2)));
  const [error, setError] = useState<string>();
  const [running, setRunning] = useState<AbortController | null>(null);
  const [status, setStatus] = useState('');
  const log = useRef<HTMLOListElement>(null);
  const stream = useRef<AbortController | null>(null);

  // keep the newest text in view while it streams
  useEffect(() => {
    const el = log.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages]);
  // leaving the page stops a running answer
  useEffect(() => () => stream.current?.abort(), []);

  const appendToAnswer = (piece: string, finish?: string) =>
    setMessages((ms) => {
      const last = ms.at(-1)!;
      return [...ms.slice(0, -1), { ...last, content: last.content + piece, ...(finish ? { finish } : {}) }];
    });

  const send = async () => {
    const text = draft.trim();
    if (text === '' || running) return;
    const history: Message[] = [...messages.map(({ role, content }) => ({ role, content })), { role: 'user', content: text }];
    setMessages([...history, { role: 'assistant', content: '' }]);
    setDraft('');
    setError(undefined);
    setStatus('The model is answering…');
    const ctrl = new AbortController();
    setRunning(ctrl);
    stream.current = ctrl;
    try {
      await streamEvents('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: `${version.model}:${version.version}`, messages: history, stream: true, temperature, max_tokens: maxTokens }),
        signal: ctrl.signal,
      }, (e) => {
        if (e.data === '[DONE]') return;
        const chunk = JSON.parse(e.data) as Chunk;
        if (chunk.error) throw new Error(chunk.error.message);
        const choice = chunk.choices?.[0];
        if (choice) appendToAnswer(choice.delta?.content ?? '', choice.finish_reason ?? undefined);
      });
      setStatus('The answer is complete.');
    } catch (err) {
      if ((err as Error).name === 'AbortError') {
        appendToAnswer('', 'stopped');
        setStatus('Stopped.');
      } else {
        setError((err as Error).message);
        setStatus('');
      }
    } finally {
      stream.current = null;
      setRunning(null);
    }
  };

  return (
    <div class="chat">
      <ol class="chat-log" ref={log} aria-label="Conversation">
        {messages.length === 0 && <li class="chat-empty">Send a message to start. The answer streams in as the model writes it; Stop ends it early.</li>}
        {messages.map((m, i) => (
          <li key={i} class={`chat-msg ${m.role}`} aria-busy={running !== null && i === messages.length - 1 && m.role === 'assistant'}>
            <span class="chat-role">{m.role === 'user' ? 'You' : version.model}</span>
            <span class="chat-text">{m.content}</span>
            {m.finish && <small class="chat-finish" data-finish={m.finish}>{FINISH[m.finish] ?? m.finish}</small>}
          </li>
        ))}
      </ol>
      <p class="sr-only" aria-live="polite">{status}</p>
      <ErrorBox error={error} />
      <form onSubmit={(e) => { e.preventDefault(); void send(); }}>
        <label>
          Message
          <textarea rows={2} value={draft} onInput={(e) => setDraft(e.currentTarget.value)} placeholder="Enter sends, Shift+Enter starts a new line"
            onKeyDown={(e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); void send(); } }} />
        </label>
        <div class="chat-controls">
          <label>
            Temperature <span class="num" aria-hidden="true" data-temperature={temperature}>{temperature.toFixed(1)}</span>
            <input type="range" min={0} max={2} step={0.1} value={temperature} onInput={(e) => setTemperature(Number(e.currentTarget.value))} />
          </label>
          <label>
            Max tokens
            <input type="number" min={1} max={context} value={maxTokens} onInput={(e) => setMaxTokens(Math.max(1, Math.floor(Number(e.currentTarget.value) || 1)))} />
          </label>
          <div class="chat-buttons">
            {running
              ? <button type="button" class="secondary" onClick={() => running.abort()}>Stop</button>
              : <button type="submit" disabled={draft.trim() === ''}>Send</button>}
            <button type="button" class="secondary outline" disabled={running !== null || messages.length === 0} onClick={() => { setMessages([]); setStatus(''); }}>Clear chat</button>
          </div>
        </div>
      </form>
    </div>
  );
}
