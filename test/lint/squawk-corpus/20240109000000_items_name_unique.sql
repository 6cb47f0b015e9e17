-- migrate:up
SET lock_timeout = '2s';
ALTER TABLE items ADD CONSTRAINT items_name_key UNIQUE (name);

-- migrate:down
ALTER TABLE items DROP CONSTRAINT items_name_key;
