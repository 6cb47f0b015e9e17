-- migrate:up
SET lock_timeout = '2s';
ALTER TABLE items SET UNLOGGED;

-- migrate:down
ALTER TABLE items SET LOGGED;
