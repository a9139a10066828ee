import { InvalidPermissionError, YosaiConfigurationError } from '../errors/yosai.errors.js';
import { WildcardPermission } from './wildcard-permission.js';

/** A value of a template part: literal text, or the name of a route parameter (`{id}`). */
type TemplateValue = string | { readonly param: string };

const PLACEHOLDER = /^\{([A-Za-z_$][\w$]*)\}$/;

/**
 * A permission written with route-parameter placeholders, e.g. `document:read:{id}`. A placeholder stands for one
 * whole value; it is filled with the parameter's value taken literally, so a value holding `:`, `,` or `*` is one
 * value and can never widen the check (see `WildcardPermission.fromParts`).
 * @internal Made by `@RequiresPermissions()`.
 */
export class PermissionTemplate {
  private readonly parts: readonly (readonly TemplateValue[])[];
  /** The permission when the template has no placeholder. */
  private readonly fixed: WildcardPermission | null;

  /** @throws InvalidPermissionError when the text (placeholders aside) is not a permission. */
  constructor(readonly text: string) {
    // Checked as a permission with each placeholder standing for a plain value.
    const plain = new WildcardPermission(String(text).replace(/\{[^{}:,]*\}/g, 'x'));
    this.parts = text
      .trim()
      .split(':')
      .map((part) =>
        part.split(',').map((raw): TemplateValue => {
          const value = raw.trim();
          const match = PLACEHOLDER.exec(value);
          if (match) return { param: match[1] };
          if (value.includes('{') || value.includes('}')) {
            throw new InvalidPermissionError(
              text,
              `a placeholder must be a whole value such as {id}, not part of one (${value})`,
            );
          }
          return value;
        }),
      );
    this.fixed = this.parts.some((part) => part.some((value) => typeof value !== 'string')) ? null : plain;
  }

  /** The names of the route parameters it needs. */
  get params(): string[] {
    return this.parts.flatMap((part) => part.flatMap((v) => (typeof v === 'string' ? [] : [v.param])));
  }

  /**
   * The permission for a request's route parameters, or null when a parameter is empty (the check then fails).
   * @throws YosaiConfigurationError when the route has no such parameter (a programming error).
   */
  fill(params: Readonly<Record<string, unknown>> | undefined): WildcardPermission | null {
    if (this.fixed) return this.fixed;
    let empty = false;
    const parts = this.parts.map((part) =>
      part.map((value) => {
        if (typeof value === 'string') return value;
        const given = params?.[value.param];
        if (given === undefined || given === null) {
          throw new YosaiConfigurationError(
            `@RequiresPermissions('${this.text}') needs the route parameter :${value.param}, which this route does not have.`,
          );
        }
        const text = typeof given === 'string' ? given : typeof given === 'number' ? String(given) : '';
        if (text.length === 0) empty = true;
        return text;
      }),
    );
    return empty ? null : WildcardPermission.fromParts(parts);
  }
}
