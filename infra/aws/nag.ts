import { Validations } from 'aws-cdk-lib';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges one cdk-nag finding on `scope` (and so on every resource below it) with a
 * written reason. Keep `scope` as narrow as the finding: the resource, or the construct that
 * owns it.
 */
export function acknowledgeFinding(scope: IConstruct, id: string, reason: string): void {
  if (reason.trim().length < 20) {
    throw new Error(`cdk-nag acknowledgement "${id}" on ${scope.node.path} needs a specific reason.`);
  }
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * Acknowledges a finding on the default policy of `role` only (where grants land), not on the
 * role or the function around it.
 */
export function acknowledgeOnDefaultPolicy(role: IRole, id: string, reason: string): void {
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (!policy) {
    throw new Error(`Role ${role.node.path} has no DefaultPolicy yet: acknowledge "${id}" after the grant.`);
  }
  acknowledgeOnResource(policy, id, reason);
}

/**
 * Acknowledges a finding on the CloudFormation resource of an L2 construct (its default child)
 * rather than on the construct, whose other children (policies, permissions, mappings) keep
 * being checked.
 */
export function acknowledgeOnResource(construct: IConstruct, id: string, reason: string): void {
  const resource = construct.node.defaultChild;
  if (!resource) throw new Error(`${construct.node.path} has no CloudFormation resource to acknowledge "${id}" on.`);
  acknowledgeFinding(resource, id, reason);
}
