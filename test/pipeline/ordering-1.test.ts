/** Ordering under random interleavings, part 1 of 2 (the model and its checks: ./ordering-model.ts). */
import { describeOrdering } from './ordering-model';

describeOrdering(0, 2);
