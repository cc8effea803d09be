-- Scenario ids logged with a training step, for exact data/cum/num_unique_scenarios.
ALTER TABLE raw_training_steps ADD COLUMN IF NOT EXISTS scenario_ids Array(String) AFTER tables;
