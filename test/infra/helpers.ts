import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../infra/aws/app';
import type { EngageStack } from '../../infra/aws/engage-stack';

export type PolicyStatement = { Effect: string; Action: string | string[]; Resource: unknown };
export type CfnResource = { [key: string]: any };

export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'),
).context;

// Every synthesized app writes a cloud assembly: keep them in one folder removed afterwards.
let outdirRoot: string | undefined;
afterAll(() => {
  if (outdirRoot) rmSync(outdirRoot, { recursive: true, force: true });
  outdirRoot = undefined;
});

/**
 * The app exactly as `cdk synth` builds it (cdk.json context, cdk-nag packs), except that asset
 * bundling is skipped (`aws:cdk:bundling-stacks: []`) to keep the suite fast; `cdk synth`
 * exercises the real esbuild bundling.
 */
export function buildApp(context: Record<string, unknown> = {}): { app: App; stack: EngageStack } {
  outdirRoot ??= mkdtempSync(path.join(tmpdir(), 'engage-infra-test-'));
  return createApp(
    new App({
      outdir: mkdtempSync(path.join(outdirRoot, 'app-')),
      context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context },
    }),
  );
}

/** The synthesized resources of one type (their JSON, as in the template). */
export function resourcesOf(template: Template, type: string, props?: object): CfnResource[] {
  return Object.values(template.findResources(type, props));
}

export function logicalIdOf(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  const [id] = ids;
  if (ids.length !== 1 || id === undefined) throw new Error(`expected one ${type} starting with ${prefix}, found ${ids.length}`);
  return id;
}

export function statementsOf(policies: CfnResource[]): PolicyStatement[] {
  return policies.flatMap((p): PolicyStatement[] => p.Properties.PolicyDocument.Statement);
}

export function statementsOfRole(template: Template, roleLogicalId: string): PolicyStatement[] {
  return statementsOf(
    resourcesOf(template, 'AWS::IAM::Policy', { Properties: { Roles: Match.arrayWith([{ Ref: roleLogicalId }]) } }),
  );
}

export function asArray(value: string | string[]): string[] {
  return Array.isArray(value) ? value : [value];
}
