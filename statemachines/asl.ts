/**
 * The subset of the Amazon States Language (JSONPath flavour) the journey compiler emits.
 * Plain JSON-compatible types, so a compiled definition can be `JSON.stringify`-ed into
 * `CreateStateMachine` as is. JSONata is deliberately absent: aws-local-stepfunctions does not
 * run it (Choice conditions silently take `Default`), and journeys must run locally.
 *
 * @see https://states-language.net/spec.html
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A retry policy of a Task state. */
export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: 'FULL' | 'NONE';
}

/** A fallback transition of a Task state. `ResultPath` says where the error object goes. */
export interface Catcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
}

/** Either `Next` or `End: true` (never both). */
export type Transition = { Next: string; End?: never } | { End: true; Next?: never };

interface StateBase {
  Comment?: string;
}

export type TaskState = StateBase &
  Transition & {
    Type: 'Task';
    Resource: string;
    Parameters?: JsonObject;
    ResultSelector?: JsonObject;
    ResultPath?: string | null;
    TimeoutSeconds?: number;
    Retry?: Retrier[];
    Catch?: Catcher[];
  };

export type PassState = StateBase &
  Transition & {
    Type: 'Pass';
    Parameters?: JsonObject;
    Result?: JsonValue;
    ResultPath?: string | null;
  };

export type WaitState = StateBase &
  Transition & {
    Type: 'Wait';
    Seconds?: number;
    TimestampPath?: string;
  };

/** The comparison operators the compiler uses (a small part of ASL's). */
export type ChoiceComparison =
  | { Variable: string; NumericEquals: number }
  | { Variable: string; NumericLessThan: number }
  | { Variable: string; IsPresent: boolean };

export type ChoiceRule = ChoiceComparison & { Next: string };

export interface ChoiceState extends StateBase {
  Type: 'Choice';
  Choices: ChoiceRule[];
  Default?: string;
}

export interface SucceedState extends StateBase {
  Type: 'Succeed';
}

export type AslState = TaskState | PassState | WaitState | ChoiceState | SucceedState;

/** A whole state machine definition. `QueryLanguage` is omitted: JSONPath is the default. */
export interface StateMachineDefinition {
  Comment?: string;
  StartAt: string;
  States: Record<string, AslState>;
  TimeoutSeconds?: number;
}

/** ASL limit on state names (in Unicode characters). */
export const MAX_STATE_NAME_LENGTH = 80;
