import { Global, Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { AccountsController } from './accounts.controller';
import { AccountsService } from './accounts.service';

@Global()
@Module({
  // Per-route limits (sign-in); the default only applies where the guard is used.
  imports: [ThrottlerModule.forRoot([{ name: 'default', ttl: 60_000, limit: 10 }])],
  controllers: [AccountsController],
  providers: [AccountsService],
  exports: [AccountsService],
})
export class AccountsModule {}
