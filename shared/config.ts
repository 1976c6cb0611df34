import { z } from 'zod';

/**
 * Settings every function reads from its environment, parsed once per cold start.
 * A missing or malformed variable fails the cold start with a message naming it.
 */
const ConfigSchema = z.object({
  TABLE_NAME: z.string().min(3),
  EVENT_RETENTION_DAYS: z.coerce.number().int().positive().default(400),
  /** AWS: Secrets Manager ARNs. Local: the keys themselves are injected instead. */
  WRITE_KEY_SECRET_ARN: z.string().optional(),
  API_KEY_SECRET_ARN: z.string().optional(),
  /** The deployment's EventBridge bus (SPEC section 4). */
  EVENT_BUS_NAME: z.string().min(1).default('engage'),
  /** How long a container trusts its cached audience definitions. */
  AUDIENCE_CACHE_TTL_MS: z.coerce.number().int().min(0).default(15_000),
  /** Parallel-scan segments of an audience backfill. */
  BACKFILL_SEGMENTS: z.coerce.number().int().min(1).max(1000).default(8),
  /** Backfills start this much later than the change, after every definition cache expired. */
  BACKFILL_DELAY_SECONDS: z.coerce.number().int().min(0).max(900).default(20),
  UNSUBSCRIBE_KEY_SECRET_ARN: z.string().optional(),
  /** Messaging: the From address, the public API URL for links, sending rate, claim grace. */
  SENDER_EMAIL: z.string().default('no-reply@example.com'),
  PUBLIC_API_URL: z.string().default(''),
  ACCOUNT_SEND_RATE: z.coerce.number().int().min(1).default(14),
  CLAIM_GRACE_SECONDS: z.coerce.number().int().min(1).default(600),
  SES_CONFIGURATION_SET: z.string().optional(),
  SMS_ORIGINATION_IDENTITY: z.string().default(''),
  SMS_CONFIGURATION_SET: z.string().optional(),
  /** Broadcast schedules: the start function they invoke, the role they use, their name prefix. */
  SCHEDULER_TARGET_ARN: z.string().default(''),
  SCHEDULER_ROLE_ARN: z.string().default(''),
  SCHEDULER_GROUP: z.string().default('default'),
  SCHEDULE_NAME_PREFIX: z.string().default('engage'),
  /** Journeys: state machines are named `<JOURNEY_NAME_PREFIX>-<journeyId>` and run with JOURNEY_ROLE_ARN. */
  JOURNEY_NAME_PREFIX: z.string().default('engage'),
  JOURNEY_ROLE_ARN: z.string().default(''),
  /** The task functions compiled journeys invoke. */
  JOURNEY_HOLD_UNTIL_ARN: z.string().default(''),
  JOURNEY_WAIT_UNTIL_ARN: z.string().default(''),
  JOURNEY_CHECK_CONDITION_ARN: z.string().default(''),
  /** Execution logging of journey state machines (level ERROR, without execution data). */
  JOURNEY_LOG_GROUP_ARN: z.string().optional(),
  JOURNEY_TRACING: z.enum(['true', 'false']).default('true'),
});

export type Config = z.infer<typeof ConfigSchema>;

let cached: Config | undefined;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  if (cached && env === process.env) return cached;
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid environment: ${problems}`);
  }
  if (env === process.env) cached = parsed.data;
  return parsed.data;
}
