import { TfstepError } from '../config/errors';

/** An item list in the artifacts store that cannot be used: missing, changed since written, or not a list of items. */
export class ItemListError extends TfstepError {
  constructor(message: string) {
    super(message);
    this.name = 'ItemListError';
  }
}
