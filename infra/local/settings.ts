import { z } from 'zod';

const port = (fallback: number) =>
  z.coerce.number({ message: 'must be a port number' }).int('must be an integer').min(0, 'must be 0–65535').max(65535, 'must be 0–65535').default(fallback);

/** The `ENGAGE_*` settings of SPEC section 9, validated once at start. */
const LocalSettingsSchema = z.object({
  ENGAGE_PORT: port(3000),
  ENGAGE_WRITE_KEY: z.string().min(8, 'must be at least 8 characters').optional(),
  ENGAGE_API_KEY: z.string().min(8, 'must be at least 8 characters').optional(),
  ENGAGE_TIME_SCALE: z.coerce.number({ message: 'must be a number' }).positive('must be greater than 0').default(1),
  ENGAGE_DATA_DIR: z.string().min(1).optional(),
  ENGAGE_SES_PORT: port(8005),
  ENGAGE_DYNAMODB_PORT: port(8000),
  ENGAGE_EVENT_RETENTION_DAYS: z.coerce.number().int().positive().default(400),
});

export interface LocalSettings {
  port: number;
  writeKey?: string;
  apiKey?: string;
  timeScale: number;
  dataDir?: string;
  sesPort: number;
  dynamodbPort: number;
  eventRetentionDays: number;
}

export function parseLocalSettings(env: NodeJS.ProcessEnv): LocalSettings {
  const parsed = LocalSettingsSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ');
    throw new Error(`Invalid setting: ${problems}`);
  }
  const s = parsed.data;
  return {
    port: s.ENGAGE_PORT,
    writeKey: s.ENGAGE_WRITE_KEY,
    apiKey: s.ENGAGE_API_KEY,
    timeScale: s.ENGAGE_TIME_SCALE,
    dataDir: s.ENGAGE_DATA_DIR,
    sesPort: s.ENGAGE_SES_PORT,
    dynamodbPort: s.ENGAGE_DYNAMODB_PORT,
    eventRetentionDays: s.ENGAGE_EVENT_RETENTION_DAYS,
  };
}
