-- Login throttling keyed on the account and on the browser that proves a past login
-- (OWASP "device cookies"): attempts from a recognised browser are counted apart, so an
-- attacker who exhausts the anonymous budget of an account or of an IP cannot lock out
-- its owner. `device` is the cookie's random nonce, never the cookie itself.
ALTER TABLE login_attempts ADD COLUMN device text;
CREATE INDEX login_attempts_device ON login_attempts (user_id, device, at)
    WHERE device IS NOT NULL;
