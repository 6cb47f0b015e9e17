-- migrate:up
SET lock_timeout = '2s';
ALTER TABLE items ADD CONSTRAINT items_qty_positive CHECK (qty > 0) NOT VALID;
ALTER TABLE items VALIDATE CONSTRAINT items_qty_positive;

-- migrate:down
ALTER TABLE items DROP CONSTRAINT items_qty_positive;
