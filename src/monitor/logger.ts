// JSON logs through pino. Request and response bodies are never logged: the access log carries the
// request id, method, route, status and time only.
import pino, { type Logger } from 'pino';

export function createLogger(level: string, destination: pino.DestinationStream | number = 1): Logger {
  return pino({ level, base: { service: 'ferry' }, timestamp: pino.stdTimeFunctions.isoTime }, typeof destination === 'number' ? pino.destination({ fd: destination, sync: false }) : destination);
}
