import { Injectable } from '@nestjs/common';
import { SubjectAccessor } from '../../src/index.js';

/** A service that reads the request's Subject through nestjs-cls (`SubjectAccessor`), without it being passed down. */
@Injectable()
export class AuditTrail {
  constructor(private readonly subjects: SubjectAccessor) {}
  actor(): string {
    return this.subjects.get().primaryIdentifier ?? 'guest';
  }
}
