// The Worker's stores write SQL by hand from worker/store/tables.ts; schema/ (drizzle) defines the database.
// Each table the stores write must name exactly the schema's writable columns, its jsonb and its int8 ones.
import { getTableColumns, getTableName, is } from "drizzle-orm";
import { toSnakeCase } from "drizzle-orm/casing";
import { PgTable } from "drizzle-orm/pg-core";
import { describe, expect, it } from "vitest";
import * as schema from "../../../schema/control-plane.ts";
import * as tables from "../../../worker/store/tables.ts";
import { columnOf, recordOf } from "../../../worker/store/sql.ts";

const bySqlName = new Map(
  (Object.values(schema) as unknown[]).flatMap((value) =>
    is(value, PgTable) ? [[getTableName(value), value] as const] : [],
  ),
);

describe.each(Object.entries(tables))("tables.%s", (_, table) => {
  const columns = Object.entries(getTableColumns(bySqlName.get(table.name)!));

  it("writes every column the schema lets a client write, by its SQL name", () => {
    const writable = columns.filter(([, column]) => !column.generated).map(([field]) => field);
    expect([...table.fields].sort()).toEqual(writable.sort());
    for (const [field] of columns) {
      // schema/ names columns through drizzle's snake_case casing; rows read back map to the same fields.
      expect(columnOf(field)).toBe(toSnakeCase(field));
      expect(Object.keys(recordOf(table, { [toSnakeCase(field)]: null }))).toEqual([field]);
    }
  });

  it("knows its jsonb and int8 columns", () => {
    expect([...table.json].sort()).toEqual(
      columns
        .filter(([, c]) => c.getSQLType() === "jsonb")
        .map(([f]) => f)
        .sort(),
    );
    expect([...table.int8].sort()).toEqual(
      columns
        .filter(([, c]) => c.getSQLType() === "bigint")
        .map(([f]) => f)
        .sort(),
    );
  });
});
