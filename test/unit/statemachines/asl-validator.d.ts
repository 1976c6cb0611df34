/** asl-validator 4.0.0 ships JavaScript only; this is the part of its API the tests use. */
declare module 'asl-validator' {
  interface AslValidationError {
    message?: string;
    instancePath?: string;
  }
  interface AslValidationResult {
    isValid: boolean;
    errors: AslValidationError[];
    errorsText(separator?: string): string;
  }
  /**
   * Validates a definition. Careful: it adds `QueryLanguage` to every state of the object it
   * is given, and any options object replaces all defaults (see TOOLCHAIN.md): call it with a
   * copy and without options.
   */
  function validator(definition: object, options?: { checkPaths?: boolean; checkArn?: boolean }): AslValidationResult;
  export = validator;
}
