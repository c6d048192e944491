-- 0009 placeholder: another branch adds its own 0009 in parallel; this keeps the numbers
-- without gaps until they are merged (the merge removes this file).
SELECT 1;
