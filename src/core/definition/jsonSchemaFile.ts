import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { definitionsJsonSchema } from './schema';

/** Path of the committed JSON Schema of definitions files, relative to the repository root. */
export const JSON_SCHEMA_FILE = 'definitions.schema.json';

export function renderJsonSchema(): string {
  return `${JSON.stringify(definitionsJsonSchema(), null, 2)}\n`;
}

if (require.main === module) {
  const target = join(__dirname, '..', '..', '..', JSON_SCHEMA_FILE);
  writeFileSync(target, renderJsonSchema());
  console.log(`wrote ${target}`);
}
