import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { EngageStack } from './engage-stack';

/**
 * Builds the CDK app: the Engage stack, checked by cdk-nag's AwsSolutions and Serverless packs.
 * A finding that is not acknowledged (with a written reason, at the narrowest scope) makes
 * synthesis fail. Exported so tests synthesize exactly what `cdk synth` does.
 */
export function createApp(app: App = new App()): { app: App; stack: EngageStack } {
  const stack = new EngageStack(app, 'Engage');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return { app, stack };
}

if (require.main === module) {
  createApp().app.synth();
}
