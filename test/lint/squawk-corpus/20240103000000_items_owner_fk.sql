-- migrate:up
SET lock_timeout = '2s';
ALTER TABLE items ADD CONSTRAINT items_owner_fk FOREIGN KEY (owner) REFERENCES accounts (id);

-- migrate:down
ALTER TABLE items DROP CONSTRAINT items_owner_fk;
