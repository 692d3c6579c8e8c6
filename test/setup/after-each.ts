import { endLeftoverChildren } from './children';

afterEach(endLeftoverChildren);
