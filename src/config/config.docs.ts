import { CONFIG_FIELDS, type FieldSpec, type FieldType } from './config.schema.js';

function allowed(type: FieldType): string {
  switch (type.kind) {
    case 'port':
      return 'port';
    case 'int':
      return `${type.min}–${type.max}`;
    case 'bool':
      return '`true` / `false`';
    case 'enum':
      return type.values.map((v) => `\`${v}\``).join(' / ');
    case 'url':
      return `URL (${type.protocols.map((p) => `\`${p}\``).join(', ')})`;
    case 'path':
      return 'path';
    case 'durations':
      return 'durations list';
    case 'cidr-allow':
      return '`true` / `false` / CIDR list';
    case 'string':
      return 'text';
  }
}

/** The README's configuration table, generated from the schema (a test keeps the README in step). */
export function configTableMarkdown(): string {
  const rows = (Object.values(CONFIG_FIELDS) as FieldSpec[]).map(
    (f) =>
      `| \`${f.env}\` | ${f.default === undefined ? '—' : `\`${f.default}\``} | ${allowed(f.type)} | ${f.description}${
        f.secret ? ` **Secret**: or \`${f.env}_FILE\`, or \`aws-sm://<secret-id>[#field]\`.` : ''
      } |`,
  );
  return ['| Variable | Default | Allowed | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
