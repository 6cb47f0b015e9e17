-- migrate:up transaction:false
SET lock_timeout = '2s';
CREATE UNIQUE INDEX CONCURRENTLY accounts_email_key ON accounts (email);
ALTER TABLE accounts ADD CONSTRAINT accounts_email_key UNIQUE USING INDEX accounts_email_key;

-- migrate:down
ALTER TABLE accounts DROP CONSTRAINT accounts_email_key;
