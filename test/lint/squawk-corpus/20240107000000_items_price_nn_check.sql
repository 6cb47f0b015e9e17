-- migrate:up transaction:false
SET lock_timeout = '2s';
ALTER TABLE items ADD CONSTRAINT items_price_nn CHECK (price IS NOT NULL) NOT VALID;
ALTER TABLE items VALIDATE CONSTRAINT items_price_nn;
ALTER TABLE items ALTER COLUMN price SET NOT NULL;
ALTER TABLE items DROP CONSTRAINT items_price_nn;

-- migrate:down
ALTER TABLE items ALTER COLUMN price DROP NOT NULL;
