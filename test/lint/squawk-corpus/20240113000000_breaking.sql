-- migrate:up
ALTER TABLE items DROP COLUMN note;
ALTER TABLE items RENAME COLUMN name TO title;
ALTER TABLE accounts RENAME TO users;
DROP INDEX items_qty;

-- migrate:down
ALTER TABLE users RENAME TO accounts;
ALTER TABLE items RENAME COLUMN title TO name;
ALTER TABLE items ADD COLUMN note text;
