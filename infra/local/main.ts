/**
 * `npm start`: the whole engine on this machine (SPEC section 9). `npm start -- --demo` also
 * loads demo data. Settings: the ENGAGE_* environment variables (see README).
 */
import './local-env';
import { loadDemo } from './demo';
import { startLocalEngine } from './engine';
import { parseLocalSettings } from './settings';

async function main(): Promise<void> {
  const settings = parseLocalSettings(process.env);
  const engine = await startLocalEngine(settings);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    engine
      .close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        console.error('could not stop cleanly:', error instanceof Error ? error.message : error);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  console.log(
    [
      '',
      'Engage on AWS — local mode',
      `  API            ${engine.url}`,
      `  Health         ${engine.url}/v1/health`,
      `  OpenAPI        ${engine.url}/v1/openapi.json  (needs the API key)`,
      `  DynamoDB       ${engine.dynamo.endpoint}  (table "${engine.dynamo.tableName}")`,
      `  Mail inbox     ${engine.ses.endpoint}  (local SES: every email sent)`,
      `  SMS outbox     ${engine.url}/v1/local/outbox?channel=sms  (needs the API key)`,
      `  Events         ${engine.url}/v1/local/events  (what the EventBridge bus carried; needs the API key)`,
      `  Write key      ${engine.writeKey}`,
      `  API key        ${engine.apiKey}`,
      `  Data           ${settings.dataDir ?? 'in memory (set ENGAGE_DATA_DIR to keep it)'}`,
      '',
      'Send events with a Segment client:',
      `  new Analytics({ writeKey: '${engine.writeKey}', host: '${engine.url}' })`,
      'Read a profile:',
      `  curl -H 'Authorization: Bearer ${engine.apiKey}' ${engine.url}/v1/profiles/<userId>`,
      '',
    ].join('\n'),
  );

  if (process.argv.includes('--demo')) {
    const demo = await loadDemo(engine.url, engine);
    await engine.settle();
    console.log(`Demo loaded: ${demo.messages} messages for demo-ada, demo-grace, demo-alan, demo-katherine and demo-mary.`);
    for (const audience of demo.audiences) {
      console.log(`  audience "${audience.name}": curl -H 'Authorization: Bearer ${engine.apiKey}' ${engine.url}/v1/audiences/${audience.id}/members`);
    }
    console.log(`  a profile: curl -H 'Authorization: Bearer ${engine.apiKey}' ${engine.url}/v1/profiles/demo-mary/events`);
    console.log(`  broadcast "Pro tips": curl -H 'Authorization: Bearer ${engine.apiKey}' ${engine.url}/v1/broadcasts/${demo.broadcastId}`);
    console.log(`  its emails: ${engine.ses.endpoint}`);
    console.log(`  journey "Abandoned cart" (ada, grace and alan entered; reminders after 20 s): curl -H 'Authorization: Bearer ${engine.apiKey}' ${engine.url}/v1/journeys/${demo.journeyId}`);
    console.log(`  ada's run: curl -H 'Authorization: Bearer ${engine.apiKey}' '${engine.url}/v1/journeys/${demo.journeyId}/executions?userId=demo-ada'`);
  }
  console.log('Ready. Ctrl+C stops.');
}

main().catch((error: unknown) => {
  console.error(`engage: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
