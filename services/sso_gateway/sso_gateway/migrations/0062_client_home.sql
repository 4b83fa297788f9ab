-- A platform's home page (RFC 7591 §2, client_uri): where a person opens it. The refusal page
-- of a suspended learner lists the platforms that stay reachable by this address; a client
-- without one (a machine-to-machine API, a console on loopback) is not a place to send them.
ALTER TABLE clients ADD COLUMN client_uri text;
