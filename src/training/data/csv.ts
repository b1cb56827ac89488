// RFC 4180 CSV: comma-separated fields, double-quoted fields may hold commas, newlines and "" for a
// quote; records end with LF or CRLF. Each record keeps the line it starts on, because a quoted
// newline makes record numbers and line numbers differ, and an error must point into the file.
import { invalid } from '../../core/errors.js';

export interface CsvRecord {
  /** 1-based line on which the record starts */
  readonly line: number;
  readonly fields: string[];
}

/**
 * Parses CSV text into records, skipping blank lines.
 *
 *   parseCsv('a,b\n"x,1","say ""hi"""\n', 'f.csv')
 *   // [{ line: 1, fields: ['a', 'b'] }, { line: 2, fields: ['x,1', 'say "hi"'] }]
 */
export function parseCsv(text: string, file: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;
  // Whether the record has a quoted field: a line holding only "" is a record with one empty field,
  // not a blank line.
  let quoted = false;
  const endField = () => {
    fields.push(field);
    field = '';
  };
  const endRecord = () => {
    endField();
    // A blank line parses as one empty field; it is not a record.
    if (fields.length > 1 || fields[0] !== '' || quoted) records.push({ line: recordLine, fields });
    fields = [];
    quoted = false;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' && field === '') {
      const opened = line;
      i++;
      for (;;) {
        if (i >= text.length) throw invalid(`${file} line ${opened}: a quoted field is never closed; end it with " (write a quote inside a field as "")`);
        const q = text[i]!;
        if (q === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (q === '\n') line++;
        field += q;
        i++;
      }
      const next = text[i];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
        throw invalid(`${file} line ${line}: unexpected ${JSON.stringify(next)} after a closing quote; quote the whole field and write a quote inside it as ""`);
      }
      quoted = true;
      continue;
    }
    if (c === ',') {
      endField();
    } else if (c === '\n') {
      endRecord();
      line++;
      recordLine = line;
    } else if (c !== '\r' || (text[i + 1] !== '\n' && i + 1 < text.length)) {
      field += c;
    }
    i++;
  }
  if (field !== '' || fields.length > 0 || quoted) endRecord();
  return records;
}
