import { describe, expect, it } from 'vitest';
import { scheduleFrequencyProblem } from './schedule-frequency';

describe(scheduleFrequencyProblem.name, () => {
  it.each([
    '* * * * *',
    '*/1 * * * *',
    '0 3 * * *',
    '0 * * * * *',
    '59 */5 * * * *',
    '7 0 3 * * 1',
  ])('accepts %s, at most once a minute', (cron) => {
    expect(scheduleFrequencyProblem(cron)).toBeUndefined();
  });

  it.each(['* * * * * *', '*/30 * * * * *', '0,30 * * * * *', '0-1 * * * * *', '60 * * * * *'])(
    'refuses %s, more often than once a minute, naming the minimum',
    (cron) => {
      expect(scheduleFrequencyProblem(cron)).toMatch(
        /fires more often than once a minute, the most a schedule may/,
      );
    },
  );
});
