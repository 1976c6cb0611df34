import { Metrics } from '@aws-lambda-powertools/metrics';

/** CloudWatch metrics in the Embedded Metric Format (namespace `Engage`), read by the dashboard. */
export const metrics = new Metrics({ namespace: 'Engage', serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'engage' });
