import { Module } from '@nestjs/common';
import { EnvironmentsService } from './environments.service';
import { PromotionViews } from './promotion-views';
import { PromotionsService } from './promotions.service';
import { PromotionsWorker } from './promotions.worker';
import { ReleasesController } from './releases.controller';

/**
 * Releases: environments, promotions with approvals and a deploy lock per environment, and
 * their history. Promote runs are ordinary runs (the runs module) with `event: promote`.
 */
@Module({
  controllers: [ReleasesController],
  providers: [EnvironmentsService, PromotionsService, PromotionViews, PromotionsWorker],
})
export class ReleasesModule {}
