-- migrate:up
SET lock_timeout = '2s';
ALTER TABLE items ALTER COLUMN qty SET NOT NULL;

-- migrate:down
ALTER TABLE items ALTER COLUMN qty DROP NOT NULL;
