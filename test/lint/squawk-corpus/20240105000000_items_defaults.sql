-- migrate:up
SET lock_timeout = '2s';
ALTER TABLE items ADD COLUMN flag boolean DEFAULT false;
ALTER TABLE items ADD COLUMN token uuid DEFAULT gen_random_uuid();
ALTER TABLE items ADD COLUMN seen timestamptz DEFAULT now();
ALTER TABLE items ADD COLUMN code text DEFAULT app.next_code();
ALTER TABLE items ADD COLUMN kind text NOT NULL;

-- migrate:down
ALTER TABLE items DROP COLUMN flag, DROP COLUMN token, DROP COLUMN seen, DROP COLUMN code, DROP COLUMN kind;
