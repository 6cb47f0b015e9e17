-- migrate:up
UPDATE items SET note = name WHERE note IS NULL;

-- migrate:down
