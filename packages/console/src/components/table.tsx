import type { ReactNode } from 'react';

export interface Column<T> {
  readonly header: string;
  readonly cell: (row: T) => ReactNode;
  /** Hidden on narrow screens (the phone layout keeps the essential columns). */
  readonly wide?: boolean;
}

/** A data table with a caption for screen readers; scrolls sideways inside itself on narrow screens. */
export function Table<T>({ caption, columns, rows, rowKey, empty = 'Nothing here yet.' }: { readonly caption: string; readonly columns: readonly Column<T>[]; readonly rows: readonly T[]; readonly rowKey: (row: T) => string; readonly empty?: string }) {
  if (rows.length === 0) return <p className="muted">{empty}</p>;
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.header} scope="col" className={c.wide ? 'wide' : undefined}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)}>
              {columns.map((c) => (
                <td key={c.header} className={c.wide ? 'wide' : undefined}>
                  {c.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
