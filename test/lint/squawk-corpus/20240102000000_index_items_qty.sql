-- migrate:up
SET lock_timeout = '2s';
CREATE INDEX items_qty ON items (qty);

-- migrate:down
DROP INDEX items_qty;
