/**
 * mjml 5 ships no type declarations; this is the part of its API that the messaging domain uses.
 * In mjml 5 `mjml2html` is asynchronous (it returns a Promise), unlike mjml 4.
 */
declare module 'mjml' {
  interface MjmlValidationError {
    /** 1-based line in the MJML source. */
    line: number;
    message: string;
    tagName: string;
    formattedMessage: string;
  }

  interface MjmlOptions {
    /** `strict` throws on the first validation error; `soft` returns them in `errors`; `skip` does not validate. */
    validationLevel?: 'strict' | 'soft' | 'skip';
    keepComments?: boolean;
    /** mjml 5 defaults to `true`: `<mj-include>` never reads the file system. */
    ignoreIncludes?: boolean;
    minify?: boolean;
    beautify?: boolean;
    fonts?: Record<string, string>;
    filePath?: string;
    useMjmlConfigOptions?: boolean;
  }

  interface MjmlResult {
    html: string;
    errors: MjmlValidationError[];
  }

  function mjml2html(input: string, options?: MjmlOptions): Promise<MjmlResult>;

  export = mjml2html;
}
