-- A debt the accounting office exempted from suspension (payment plan, dispute).
ALTER TABLE debts ADD COLUMN exempted_at timestamptz, ADD COLUMN exemption_reason text;
