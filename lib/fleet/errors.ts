import { TfstepError } from '../config/errors';

/** The fleet could not be read or resolved: an OU that does not exist, a bad fleet file. */
export class FleetError extends TfstepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FleetError';
  }
}
