import { RECORD_CHANGES } from '@kiln/persistence';
import { Global, Module } from '@nestjs/common';
import { AccountsModule } from '../accounts/accounts.module';
import { LogsModule } from '../logs/logs.module';
import { ClusterWatcher } from './cluster-watcher';
import { EventsController } from './events.controller';
import { LiveChanges } from './live-changes';
import { LiveEventsService } from './live-events.service';
import { LiveHub } from './live-hub';

/**
 * Live pages: the repositories report changes (RECORD_CHANGES, provided here to the whole app),
 * Redis carries them to every replica, and each replica's hub streams them to its pages.
 */
@Global()
@Module({
  // LogsModule: the live log's heartbeat setting is the events stream's too.
  imports: [AccountsModule, LogsModule],
  controllers: [EventsController],
  providers: [
    LiveChanges,
    { provide: RECORD_CHANGES, useExisting: LiveChanges },
    LiveHub,
    LiveEventsService,
    ClusterWatcher,
  ],
  exports: [RECORD_CHANGES],
})
export class LiveModule {}
