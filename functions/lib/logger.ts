import { Logger } from '@aws-lambda-powertools/logger';

/** Structured JSON logs with ids only: never message bodies, traits or contact details. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'engage' });
