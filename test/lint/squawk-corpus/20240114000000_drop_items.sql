-- migrate:up
SET lock_timeout = '2s';
DROP TABLE items;

-- migrate:down
CREATE TABLE items (id int PRIMARY KEY);
