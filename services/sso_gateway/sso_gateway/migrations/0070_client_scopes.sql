-- Scopes a client may be granted beyond the OpenID ones (the Shared Signals
-- API's ssf.manage and ssf.read): the client credentials grant grants no other.
ALTER TABLE clients ADD COLUMN scopes text[] NOT NULL DEFAULT '{}';
