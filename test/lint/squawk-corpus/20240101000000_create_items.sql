-- migrate:up
CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);
CREATE TABLE items (id int PRIMARY KEY, qty int, price numeric(10,2), name varchar(20), note text, created timestamp, owner bigint);
CREATE INDEX items_owner ON items (owner);

-- migrate:down
DROP TABLE items;
DROP TABLE accounts;
