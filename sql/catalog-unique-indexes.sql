-- Every unique index of the table, with what decides whether it can be the row identity the copy,
-- the capture and the replay address rows by (src/catalog/row-identity.ts chooses): its key
-- columns in key order with their types and collations, whether each is NOT NULL (on 18, a NOT
-- VALID not-null constraint does not count: old rows may still hold NULL) and whether the index
-- compares it as the column's own type does (default operator class, the column's collation).
SELECT ic.relname AS name, con.conname AS constraint_name, i.indisprimary AS primary,
       i.indisvalid AND i.indisready AND i.indislive AS valid, i.indimmediate AS immediate,
       i.indpred IS NOT NULL AS partial, i.indexprs IS NOT NULL AS expressions,
       coalesce((
         SELECT json_agg(json_build_object(
                  'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                  'collation', CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                                    THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END,
                  'notNull', a.attnotnull AND NOT EXISTS (
                    SELECT FROM pg_constraint nn
                     WHERE nn.conrelid = i.indrelid AND nn.contype = 'n' AND nn.conkey = ARRAY[a.attnum] AND NOT nn.convalidated),
                  'notNullConstraint', (SELECT nn.conname FROM pg_constraint nn
                                         WHERE nn.conrelid = i.indrelid AND nn.contype = 'n' AND nn.conkey = ARRAY[a.attnum] LIMIT 1),
                  'plain', opc.opcdefault AND i.indcollation[k.ord - 1] = a.attcollation)
                ORDER BY k.ord)
           FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
           JOIN pg_type t ON t.oid = a.atttypid
           JOIN pg_opclass opc ON opc.oid = i.indclass[k.ord - 1]
           LEFT JOIN pg_collation co ON co.oid = a.attcollation
           LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
          WHERE k.ord <= i.indnkeyatts), '[]') AS columns
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u')
WHERE i.indrelid = $1::oid AND i.indisunique
ORDER BY ic.relname
